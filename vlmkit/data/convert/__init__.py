"""Converters from public dataset formats to vlmkit's MDS shards (schema: :mod:`vlmkit.data.schema`).

``convert(kind, input, out)`` reads records of one sample kind -- ``pairs``, ``interleaved``,
``conversations``, ``text`` or a plugin's -- and writes MosaicML Streaming shards plus
``conversion_report.json``. One module per kind parses records (named by the kind's
``converter``, see :mod:`vlmkit.data.kinds`); :mod:`.readers` reads the input
files; :mod:`.sources` resolves images; :mod:`.writer` writes shards. Bad records are skipped and
counted by reason (:data:`.report.RECORD_REASONS`, :data:`vlmkit.data.images.REASONS`).
"""

from vlmkit.data.convert.engine import convert, parser_for
from vlmkit.data.convert.conversion_report import REPORT_FILE, ConversionReport, SkipRecord
from vlmkit.data.convert.writer import ShardWriter, write_samples

__all__ = ["REPORT_FILE", "ConversionReport", "ShardWriter", "SkipRecord", "convert", "parser_for", "write_samples"]
