from lingolive.cli import main

raise SystemExit(main())
