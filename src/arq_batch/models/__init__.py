"""Models: the one home of trained runs as scoring sees them.

The model card (``model.json``) and the loaded ``Model``, the compiled scorer's file
(``scorer.json``), the registry (``latest.json``, promotions, rollback) and the model
store that reads runs through the ports, hash-checks them and caches them by URI and ETag.

May import: the kernel, formats, engine and monitoring (a run's baseline). No AWS
library: storage comes through the ports; no scikit-learn: that is training's.
"""
