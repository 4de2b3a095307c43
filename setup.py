"""Build of the C core of near-duplicate detection; the project's metadata is in pyproject.toml."""

import sys

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "newsdesk.pipeline._dedupcore",
            ["src/newsdesk/pipeline/_dedupcore.c"],
            # Portable code: no -march, so the module runs on any x86_64 / aarch64.
            extra_compile_args=[] if sys.platform == "win32" else ["-O3", "-std=c11"],
        )
    ]
)
