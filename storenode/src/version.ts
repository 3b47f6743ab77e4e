/** The storage node's version, sent in `enroll`, `announce` and `status`. */
export const NODE_VERSION = "cairn-storenode/0.1.0";
