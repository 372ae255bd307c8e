//! Box indexes (R-trees of bounding rectangles) over lon/lat geometries, for point lookups.

use geo::BoundingRect;
use rstar::{primitives::GeomWithData, primitives::Rectangle, RTree};

/// An R-tree of bounding boxes, each carrying a key.
pub type BoxTree<T> = RTree<GeomWithData<Rectangle<[f64; 2]>, T>>;

/// Indexes the bounding box of each geometry under its key; empty geometries are left out.
pub fn box_tree<'a, T, G>(items: impl IntoIterator<Item = (T, &'a G)>) -> BoxTree<T>
where
    G: BoundingRect<f64> + 'a,
    G::Output: Into<Option<geo::Rect<f64>>>,
{
    RTree::bulk_load(
        items
            .into_iter()
            .filter_map(|(key, g)| {
                let r: geo::Rect<f64> = g.bounding_rect().into()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    key,
                ))
            })
            .collect(),
    )
}
