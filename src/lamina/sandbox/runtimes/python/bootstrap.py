"""lamina's managed Python runtime: started as `/var/lang/bin/python3.X /var/runtime/bootstrap.py`."""

from lamina_runtime.loop import main

main()
