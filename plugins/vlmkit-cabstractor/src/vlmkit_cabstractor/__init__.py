"""vlmkit-cabstractor: the C-Abstractor projector (Honeybee, Cha et al. 2024) as a vlmkit plugin.

Importing this package imports nothing heavy; the projector lives in
:mod:`vlmkit_cabstractor.cabstractor` and is loaded when a recipe names ``c_abstractor``.
"""

__version__ = "0.1.0"
