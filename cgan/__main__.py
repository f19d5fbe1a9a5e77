"""`python -m cgan` is the same as the `cgan` console script."""
import sys

from cgan.cli import main

sys.exit(main())
