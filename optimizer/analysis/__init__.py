"""What-if analyses that re-solve a warm engine: the cost of independence, policy costs, tariff
break-evens, disruption risks and the Monte Carlo stress test."""
