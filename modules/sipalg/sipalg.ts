/*
 * The "sipalg" module: the control plane's view of the SIP ALG (sipalg.h).
 * Started once at boot, after NAPT, with its pools fixed; after that only
 * on/off and the SIP ports change. Addresses cross as dotted text; times
 * are seconds.
 */
export interface StartConfig {
	enabled?: boolean;
	/* UDP and TCP ports of SIP traffic, 1 to 8 of them; [5060] when absent */
	ports?: number[];
	/* dialog pool, 1 .. 256 (16) */
	dialogs?: number;
	/* registration pool, 1 .. 64 (8) */
	registrations?: number;
	/* SIP-over-TCP connections followed at once, 1 .. 256 (16) */
	connections?: number;
	/* media pinhole forwards at once, 2 .. 1024 (2 per dialog) */
	pinholes?: number;
}

export interface Stats {
	enabled: boolean;
	ports: number[];
	/* SIP messages (and keep-alives) looked at */
	messages: number;
	/* ... that went on rewritten */
	rewritten: number;
	/* not SIP the ALG can read: forwarded unchanged */
	unparseable: number;
	/* a rewrite not made: it would not have fit the MTU; forwarded unchanged */
	tooBig: number;
	/* TCP segments passed unchanged: a message split across segments, or not at a known boundary */
	tcpSplit: number;
	/* packets the ALG rebuilt and sent itself, and those it could not (no buffer) */
	sent: number;
	sendFailed: number;
	dialogs: number;
	dialogsMax: number;
	registrations: number;
	registrationsMax: number;
	/* NAPT forwards (origin "sip") open now, and the most there is room for */
	pinholes: number;
	pinholesMax: number;
	dialogsCreated: number;
	dialogsEnded: number;
	/* a dialog, registration, TCP connection or pinhole not made: its pool was full */
	poolFull: number;
	/* a stream left unrewritten: no external port or the NAPT table full */
	pinholeFailed: number;
	/* messages sent on as the phone wrote them: a stream of the SDP got no pinhole, or more than 8 streams */
	noPinhole: number;
	tcpConnections: number;
	tcpConnectionsMax: number;
	/* TCP segments whose sequence or acknowledgement number was moved */
	tcpAdjusted: number;
	/* TCP segments not at a message boundary the ALG knows (sip_tcp's count) */
	notAtBoundary: number;
}

export interface Stream {
	insidePort: number;
	externalPort: number;
}

export interface Dialog {
	/* the Call-ID's first 39 characters */
	callId: string;
	inside: string;
	remote: string;
	/* a 2xx to its INVITE was seen */
	confirmed: boolean;
	expiresIn: number;
	streams: Stream[];
}

export interface Registration {
	inside: string;
	insidePort: number;
	externalPort: number;
	registrar: string;
	expiresIn: number;
}

const forwardRoom = native("xs_sipalg_forward_room") as (config?: StartConfig) => number;
const start = native("xs_sipalg_start") as (config: StartConfig) => boolean;
const running = native("xs_sipalg_running") as () => boolean;
const setEnabled = native("xs_sipalg_set_enabled") as (enabled: boolean) => void;
const setPorts = native("xs_sipalg_set_ports") as (ports: number[]) => void;
const stats = native("xs_sipalg_stats") as () => Stats;
const dialogs = native("xs_sipalg_dialogs") as () => Dialog[];
const registrations = native("xs_sipalg_registrations") as () => Registration[];

const SipAlg = Object.freeze({
	forwardRoom,
	start,
	running,
	setEnabled,
	setPorts,
	stats,
	dialogs,
	registrations,
});
export default SipAlg;
