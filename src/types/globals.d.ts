/*
 * Globals the XS host provides that @moddable/typings does not declare.
 * native("xs_name") is the host function a native module exports under that
 * name (compiled to a direct reference by XS on the board; looked up in a
 * generated table by the simulator).
 */
declare function native(name: string): Function;
