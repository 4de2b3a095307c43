"""Build of the C extensions; the project's metadata is in pyproject.toml."""

import sys

import lxml
from setuptools import Extension, setup

# Portable code: no -march, so the modules run on any x86_64 / aarch64.
FLAGS = [] if sys.platform == "win32" else ["-O3", "-std=c11"]

setup(
    ext_modules=[
        Extension(
            "newsdesk.pipeline._dedupcore",
            ["src/newsdesk/pipeline/_dedupcore.c"],
            extra_compile_args=FLAGS,
        ),
        # reads lxml's trees through lxml's public C API: lxml's headers (a build requirement)
        Extension(
            "newsdesk.pipeline._treescan",
            ["src/newsdesk/pipeline/_treescan.c"],
            include_dirs=lxml.get_include(),
            extra_compile_args=FLAGS,
        ),
    ]
)
