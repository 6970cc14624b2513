"""Why a session ends, in the words its admission acts on.

Contract: every handle an admission returns (``call_admission.CallHandle``,
``listen_admission.ListenHandle``) is closed exactly once with one ``CloseReason``. In a
room, ``DROPPED`` keeps the participant's seat and identity for ``LL_REJOIN_GRACE_S``
(``Room.step_away``: the others are told nothing unless they do not come back); every other
reason is a leave, told to the others at once. A loopback call or an SFU listener is
released the same way whatever the reason.

Why one value: the session knows how it ended, the admission knows what that means for a
room; a single value, passed once, cannot contradict itself.
"""

from __future__ import annotations

from enum import Enum


class CloseReason(Enum):
    BYE = "bye"  # the client said so: a leave
    ENDED = "ended"  # the server ended it (a timeout, a limit, a failed room): a leave
    DROPPED = "dropped"  # the connection was lost: the seat waits for a rejoin
    SHUTDOWN = "shutdown"  # the server is stopping: a leave
