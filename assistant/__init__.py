"""A retrieval-augmented assistant for government documents.

The data takes one way through the package, one module per stage::

    files --loaders--> Document --chunking--> Chunk --store--> (Chroma + lexical index)
                                      ingestion.py drives the above, with a manifest

Importing the package first makes the process safe on a machine with no
internet: hub downloads, telemetry and analytics are switched off before any
library that would try them is imported (see ``runtime.py``).
"""

from assistant import runtime as _runtime

_runtime.prepare_process()

__version__ = "0.1.0"
