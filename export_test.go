package herald

// MetadataTries lets external tests check UpdateMetadata's bound without
// repeating it.
const MetadataTries = metadataTries
