package api

import (
	"io"
	"math"
	"time"

	"github.com/keelson/keelson/storage"
	"github.com/parquet-go/parquet-go"
)

// Positions are the bulk of exports: they get a typed Parquet writer
// (parquet-go's GenericWriter deconstructs structs column by column, about
// twice as fast as building generic rows).

type pqPosition struct {
	MMSI      int64     `parquet:"mmsi"`
	Time      time.Time `parquet:"time,timestamp(millisecond)"`
	Lon       *float64  `parquet:"lon,optional"`
	Lat       *float64  `parquet:"lat,optional"`
	SOG       *float64  `parquet:"sog,optional"`
	COG       *float64  `parquet:"cog,optional"`
	Heading   *float64  `parquet:"heading,optional"`
	NavStatus int64     `parquet:"nav_status"`
}

type positionParquet struct {
	w    *parquet.GenericWriter[pqPosition]
	rows []pqPosition
	vals [][5]float64
}

func newPositionParquet(w io.Writer) *positionParquet {
	return &positionParquet{
		w: parquet.NewGenericWriter[pqPosition](w, parquet.Compression(&parquet.Snappy),
			parquet.MaxRowsPerRowGroup(128<<10), parquet.CreatedBy("keelson", "1", "")),
		rows: make([]pqPosition, 0, 1024),
		vals: make([][5]float64, 1024),
	}
}

func (p *positionParquet) add(r *storage.PositionRow) error {
	i := len(p.rows)
	v := &p.vals[i]
	*v = [5]float64{r.Lon, r.Lat, float64(r.SOG), float64(r.COG), float64(r.Heading)}
	ptr := func(k int) *float64 {
		if math.IsNaN(v[k]) || math.IsInf(v[k], 0) {
			return nil
		}
		return &v[k]
	}
	p.rows = append(p.rows, pqPosition{MMSI: int64(r.MMSI), Time: r.Time, Lon: ptr(0), Lat: ptr(1), SOG: ptr(2), COG: ptr(3), Heading: ptr(4), NavStatus: int64(r.NavStatus)})
	if len(p.rows) == cap(p.rows) {
		return p.flush()
	}
	return nil
}

func (p *positionParquet) flush() error {
	if len(p.rows) == 0 {
		return nil
	}
	_, err := p.w.Write(p.rows)
	p.rows = p.rows[:0]
	return err
}

func (p *positionParquet) close() error {
	if err := p.flush(); err != nil {
		return err
	}
	return p.w.Close()
}
