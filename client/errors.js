// The server's session-level errors (docs/protocol.md, `error`), as the page takes them. No DOM.

/** Errors after which trying again cannot help: the session ends and says why. */
export const CLOSING_CODES = new Set(["connection_failed", "connect_timeout", "idle_timeout", "server_shutdown",
  "offer_timeout", "too_many_connections"]);

/** What a session-level `error` means for the user. */
export function explain(msg) {
  switch (msg.code) {
    case "bad_token": case "token_expired":
      return "This invite expired or is not from this server: ask for a new invite.";
    case "room_full":
      return "The room is full: try again later or ask for a new room.";
    case "session_expired":
      return "The session reached its time limit: press Start to go on.";
    case "too_many_requests":
      return "Too many typed phrases in the last minute: wait a little.";
    case "sfu_failed":
      return "The room's translation stopped (the server lost its audio server, Janus): create a new room.";
    default:
      return msg.message;
  }
}
