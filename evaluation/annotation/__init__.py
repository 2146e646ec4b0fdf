"""Weekly human evaluation (seed 000 US-3.6, flywheel of US-8.4), in layers: ``rubric`` (scales,
flags, thresholds, the error type) at the bottom, ``selectors`` (reads) on it, ``services`` (writes) on
both, and ``charts`` and ``views`` on top. Import the module you need; this file re-exports nothing."""
