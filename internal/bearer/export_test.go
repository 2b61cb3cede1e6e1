package bearer

// Cached reports how many tokens the verified-token cache holds.
func (c *Checker) Cached() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.verified)
}
