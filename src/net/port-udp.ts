/*
 * embedded:io's UDP socket as the router's services use it: tied to one
 * port (`interface`), optionally bound to an address or joined to a group,
 * with the datagram's source on what read() returns and close(). These go
 * beyond @moddable/typings, so the constructor is typed here once.
 */
import UDP from "embedded:io/socket/udp";

export interface Datagram {
	address: string;
	port: number;
}

export interface PortUdpSocket {
	read(): (ArrayBuffer & Datagram) | undefined;
	write(data: ArrayBuffer | ArrayBufferView, address: string, port: number): void;
	close(): void;
	/* the local port (chosen by the stack when none was asked for) */
	readonly port: number;
}

export interface PortUdpOptions {
	/* the router port whose traffic alone the socket sees and sends by */
	interface: "lan" | "wan";
	port?: number;
	address?: string;
	multicast?: string;
	timeToLive?: number;
	onReadable: (count: number) => void;
}

export const PortUdp = UDP as unknown as new (options: PortUdpOptions) => PortUdpSocket;
