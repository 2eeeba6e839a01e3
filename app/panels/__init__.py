"""Render functions for the results of the run tier, each drawn from explicit arguments (no
page-script globals): ``certificate`` (a standard certificate), ``two_stage`` (a Dual RS or
routing certificate), ``audit`` (the attack audit of either), ``job`` (a background job's
progress and Cancel) and ``region_check`` (the Region page's empirical check)."""
