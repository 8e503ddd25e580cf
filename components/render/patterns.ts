// Patterns the renderers share to refuse a value before it reaches a file.

/** A dotted-quad IPv4 address (no leading zeros, each octet 0-255). */
export const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
