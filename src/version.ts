export const PRODUCT = "natbridge";
export const VERSION = "0.1.0";
