/** This agent's version, reported to the authority and the storage node. */
export const AGENT_VERSION = "cairn-agent/0.1.0";
