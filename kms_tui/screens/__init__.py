"""Full screens of the workstation: keys, key detail, engines, stats, audit."""
