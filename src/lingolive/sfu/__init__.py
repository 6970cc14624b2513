"""LingoLive as a participant of an SFU's rooms (issue 15): the Janus WebRTC server.

In SFU mode the people of a meeting do not connect to LingoLive: they join a room of a
Janus VideoRoom (any Janus client, e.g. ``janus.js``), and LingoLive joins the same room as
one more participant that subscribes to the speakers and publishes the translations. This
package holds what that needs and nothing of LingoLive's own rooms or signaling:

- ``janus_api``: an asyncio client of Janus's WebSocket API (sessions, plugin handles,
  transactions, events) and the VideoRoom requests LingoLive uses (rooms, publishing,
  multistream subscriptions);
- ``translator``: the node as a participant of one Janus room;
- ``rooms``: the server's SFU rooms (``LL_SFU=janus``): a Janus room and a translator per
  LingoLive room, and the ``/ws`` listeners its captions go to (the one module here that
  speaks LingoLive's wire protocol, through ``wire_events``).
"""
