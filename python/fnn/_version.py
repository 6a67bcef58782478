"""The package version.

In a module of its own so that submodules can read it without importing the
package's ``__init__``.
"""

__version__ = "0.1.0"
