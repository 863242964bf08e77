"""Writes of the orders app, by job: placement and idempotency, cancellation, the saga runtime,
periodic jobs (deadlines, recovery) and operator actions. Import from the module that does the job."""
