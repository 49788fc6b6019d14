"""Notifications out: when a job with a ``notify_url`` ends, a Standard-Webhooks-signed
``job.succeeded``, ``job.failed`` or ``job.cancelled`` event is POSTed there.

The store adds the delivery in the transaction that ends the job
(:mod:`jobwire.store.notifying`); :mod:`.sender` claims due deliveries under a lease, POSTs
them through :mod:`.guard` (which refuses private addresses) and records each attempt;
:mod:`.policy` decides, purely, which URLs are allowed, what an answer means and when to try
again. Nothing here is imported by ``import jobwire`` until a worker starts sending.
"""
