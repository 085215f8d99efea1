"""Execution: a sweep's chunks run on this machine's threads, on forked worker processes
or on a Dask cluster, and come back in grid order.

The stage sits between ``plan`` and ``outputs``: it takes a :class:`~lifecycle_opt.plan.sweep_plan.SweepPlan`
and solves ranges of its points with the plan stage's own function
(:func:`~lifecycle_opt.plan.sweep_rows.solved_chunk`), and it knows nothing of formats
or files: what a chunk is turned into where it is solved (an Arrow table, CSV bytes) is
handed in by the caller as a function, and the writers of ``outputs`` read the chunks
it yields.
"""
