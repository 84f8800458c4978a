/*
 * The router's two ports as the control plane sees them: configure an
 * address (static, DHCP or off), read status and counters, and hear about
 * changes (a DHCP lease bound, lost or renewed with a new address).
 */
export type Role = "wan" | "lan";

export interface PortConfig {
	mode: "static" | "dhcp" | "off";
	address?: string;
	netmask?: string;
	gateway?: string;
	dns?: string[];
}

export interface PortCounters {
	rxFrames: number;
	rxBytes: number;
	txFrames: number;
	txBytes: number;
	rxDropped: number;
	txErrors: number;
	/* IPv4 packets that passed the input hook (NAPT's entry point). */
	ip4Input: number;
}

export interface PortStatus {
	device: string;
	mac: string;
	link: boolean;
	up: boolean;
	mtu: number;
	address: string;
	netmask: string;
	gateway: string;
	dhcp: string;
	dhcpServer?: string;
	leaseSeconds?: number;
	dns: string[];
	counters: PortCounters;
}

export interface PoolUsage {
	name: string;
	used: number;
	max: number;
	available: number;
	errors: number;
}

const configure = native("xs_net_configure") as (role: Role, config: PortConfig) => void;
const status = native("xs_net_status") as (role: Role) => PortStatus;
const onChange = native("xs_net_on_change") as (callback: (role: Role) => void) => void;
const pools = native("xs_net_pools") as () => PoolUsage[];
const timewaitReopened = native("xs_net_timewait_reopened") as () => number;

const Net = Object.freeze({ configure, status, onChange, pools, timewaitReopened });
export default Net;
