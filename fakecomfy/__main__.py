import sys

from fakecomfy.cli import main

sys.exit(main())
