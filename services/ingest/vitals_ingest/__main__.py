from vitals_ingest.cli import main

raise SystemExit(main())
