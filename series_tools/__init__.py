"""The tooling that runs, publishes and packages the series — not what a notebook imports.

- `series`: run every notebook on a fresh kernel (`make tutorial`), with a summary.
- `site`: the executed series as a static web book (build/site/).
- `workshop`: student and instructor copies, the plan and a printable agenda (`make workshop`).
- `export`: each workflow's ASL and a CloudFormation template (`python -m helpers export`).
- `cli`: the command line, `python -m helpers local|asl|export|cleanup|tutorial|workshop`.

The notebooks import `helpers` only; this package builds on it.
"""
