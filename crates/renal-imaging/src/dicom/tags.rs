//! The DICOM data elements the readers and writers here use, by tag (group, element): one
//! dictionary (PS3.6), shared by the series reader, SEG, RTSTRUCT and the parser.

/// A data element's tag: (group, element).
pub(crate) type Tag = (u16, u16);

pub(crate) const SOP_CLASS: Tag = (0x0008, 0x0016);
pub(crate) const CODE_MEANING: Tag = (0x0008, 0x0104);
pub(crate) const REFERENCED_SERIES: Tag = (0x0008, 0x1115);
pub(crate) const SERIES_UID: Tag = (0x0020, 0x000E);
pub(crate) const POSITION: Tag = (0x0020, 0x0032);
pub(crate) const ORIENTATION: Tag = (0x0020, 0x0037);
pub(crate) const PLANE_POSITION: Tag = (0x0020, 0x9113);
pub(crate) const PLANE_ORIENTATION: Tag = (0x0020, 0x9116);
pub(crate) const SAMPLES: Tag = (0x0028, 0x0002);
pub(crate) const NUMBER_OF_FRAMES: Tag = (0x0028, 0x0008);
pub(crate) const ROWS: Tag = (0x0028, 0x0010);
pub(crate) const COLUMNS: Tag = (0x0028, 0x0011);
pub(crate) const PIXEL_SPACING: Tag = (0x0028, 0x0030);
pub(crate) const BITS_ALLOCATED: Tag = (0x0028, 0x0100);
pub(crate) const PIXEL_REPRESENTATION: Tag = (0x0028, 0x0103);
pub(crate) const INTERCEPT: Tag = (0x0028, 0x1052);
pub(crate) const SLOPE: Tag = (0x0028, 0x1053);
pub(crate) const PIXEL_MEASURES: Tag = (0x0028, 0x9110);
pub(crate) const PIXEL_VALUE_TRANSFORMATION: Tag = (0x0028, 0x9145);
pub(crate) const SEGMENTATION_TYPE: Tag = (0x0062, 0x0001);
pub(crate) const SEGMENT_SEQUENCE: Tag = (0x0062, 0x0002);
pub(crate) const SEGMENT_NUMBER: Tag = (0x0062, 0x0004);
pub(crate) const SEGMENT_LABEL: Tag = (0x0062, 0x0005);
pub(crate) const SEGMENT_IDENTIFICATION: Tag = (0x0062, 0x000A);
pub(crate) const REFERENCED_SEGMENT: Tag = (0x0062, 0x000B);
pub(crate) const MAX_FRACTIONAL: Tag = (0x0062, 0x000E);
pub(crate) const PROPERTY_TYPE: Tag = (0x0062, 0x000F);
pub(crate) const GRID_FRAME_OFFSETS: Tag = (0x3004, 0x000C);
pub(crate) const RT_REFERENCED_FRAME: Tag = (0x3006, 0x0010);
pub(crate) const RT_REFERENCED_STUDY: Tag = (0x3006, 0x0012);
pub(crate) const RT_REFERENCED_SERIES: Tag = (0x3006, 0x0014);
pub(crate) const STRUCTURE_SET_ROI: Tag = (0x3006, 0x0020);
pub(crate) const ROI_NUMBER: Tag = (0x3006, 0x0022);
pub(crate) const ROI_NAME: Tag = (0x3006, 0x0026);
pub(crate) const ROI_CONTOUR: Tag = (0x3006, 0x0039);
pub(crate) const CONTOUR_SEQUENCE: Tag = (0x3006, 0x0040);
pub(crate) const GEOMETRIC_TYPE: Tag = (0x3006, 0x0042);
pub(crate) const CONTOUR_DATA: Tag = (0x3006, 0x0050);
pub(crate) const REFERENCED_ROI: Tag = (0x3006, 0x0084);
pub(crate) const SHARED_GROUPS: Tag = (0x5200, 0x9229);
pub(crate) const PER_FRAME_GROUPS: Tag = (0x5200, 0x9230);
pub(crate) const PIXEL_DATA: Tag = (0x7FE0, 0x0010);
pub(crate) const ITEM: Tag = (0xFFFE, 0xE000);
pub(crate) const ITEM_END: Tag = (0xFFFE, 0xE00D);
pub(crate) const SEQ_END: Tag = (0xFFFE, 0xE0DD);
