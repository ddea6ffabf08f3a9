package energy

// Area is the chip's area by component; breakdowns are for the whole chip.
type Area struct {
	Total     float64            `json:"total"`      // every tile
	PerTile   float64            `json:"per_tile"`   // one tile, its share of a shared router included
	UsedTiles float64            `json:"used_tiles"` // the tiles the mapping occupies
	Breakdown map[string]float64 `json:"breakdown"`  // per component, whole chip
}

// Peak is the chip's peak power: every component at its maximum rate, plus
// leakage, on every powered tile.
type Peak struct {
	Peak           float64            `json:"peak"`
	PeakPerTile    float64            `json:"peak_per_tile"`
	LeakagePerTile float64            `json:"leakage_per_tile"`
	Breakdown      map[string]float64 `json:"breakdown"` // per component (dynamic at the maximum rate), whole chip; "leakage" separately
}

// Summary is the area and peak power of a chip with used of its tiles
// occupied (unused tiles count in the area, and in the power unless
// power-gated).
func (m *Model) Summary(used int) (Area, Peak) {
	tiles := float64(m.tiles)
	powered := float64(m.PoweredTiles(used))
	a := Area{PerTile: m.TileAreaMM2(), Breakdown: map[string]float64{}}
	a.Total = a.PerTile * tiles
	a.UsedTiles = a.PerTile * float64(used)
	p := Peak{PeakPerTile: m.TilePeakW(), LeakagePerTile: m.TileLeakageW(), Breakdown: map[string]float64{}}
	p.Peak = p.PeakPerTile * powered
	for _, part := range m.parts {
		a.Breakdown[part.Name] = part.AreaMM2 * tiles
		p.Breakdown[part.Name] = part.PeakW * powered
	}
	p.Breakdown[Leakage] = p.LeakagePerTile * powered
	return a, p
}
