"""The optional C extension (media/_fanout.c); everything else is in pyproject.toml.

`optional=True`: without a C compiler the install still succeeds and the SFU uses its
Python fan-out (media/sfu.py), which does the same, slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "parlor.media._fanout",
            ["src/parlor/media/_fanout.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
