import sys

from menwei.cli import main

sys.exit(main())
