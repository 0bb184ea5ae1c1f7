"""The agent: lamina's init process inside each execution environment (stdlib only).

It is started by the worker inside the sandbox as
`python -I -S -B -c "import sys; sys.path.insert(0, <parent dir>); from agent.agent import main; main()"`,
so it must not import anything from lamina outside this package.
"""
