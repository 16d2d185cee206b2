"""Use cases of ``payments``, one module per sub-domain behind one façade.

``invoices`` (issue, cancel, expire), ``checkout`` (the citizen's pay link), ``psp_events``
(the PSP's word about payments, and the re-check), ``payout_events`` (its payouts booked,
regie's share of them on a shared account), ``closing`` (the other checkouts of an
invoice just paid, closed at their PSP), ``disputes``, ``refunds`` (with ``refund_events``,
``refund_outcomes`` and ``refund_recovery``, the sweep's recovery paths), ``views``
(the ``*_out`` renderers and the reads), ``deferral`` (an event that waits for another).
Each public method owns its transaction (unit of work); every status change goes through
``payments.transitions``.
"""

from payments.service.config import PaymentsConfig
from payments.service.deferral import NeverApplicable, NotYetApplicable
from payments.service.facade import PaymentsService

__all__ = ["NeverApplicable", "NotYetApplicable", "PaymentsConfig", "PaymentsService"]
