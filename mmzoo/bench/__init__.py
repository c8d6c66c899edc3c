"""mmzoo's benchmark harness: comparison tables as data, one process per row, CSV / JSON / Markdown / PNG out."""
from mmzoo.bench.harness import load_rows, run_table, shard_from_env, table_jobs
from mmzoo.bench.measure import flops_per_sample, inference_speed, matmul_gflops
from mmzoo.bench.report import markdown_table, speed_ratio, summarize, write_reports
from mmzoo.bench.tables import TABLES, BenchTable, get_table

__all__ = [
    "TABLES",
    "BenchTable",
    "get_table",
    "run_table",
    "table_jobs",
    "load_rows",
    "shard_from_env",
    "matmul_gflops",
    "flops_per_sample",
    "inference_speed",
    "summarize",
    "speed_ratio",
    "markdown_table",
    "write_reports",
]
