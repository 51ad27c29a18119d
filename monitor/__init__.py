"""Media monitoring of international-policing coverage: feeds in, tagged articles out.

The package is the product's one Python API; `python -m monitor` and `dashboard.py` are thin
layers over it.
"""

__version__ = "0.1.0"
