"""Worker side of execution: environments, their pool, isolation and cgroups.

The agent (`sandbox/agent`) runs inside each environment; managed runtimes live in
`sandbox/runtimes`.
"""
