// The service form as the server describes it in /ui/config.json (`service`, built by
// the core from its one definition): `fields` [{name, label, help, default, max_chars}]
// in display order, and `copy` (defaults, limits). Shared by the upload wizard and the
// job page, so neither keeps its own copy of the field names.

export function serviceFields(config) {
  return Array.isArray(config?.service?.fields) ? config.service.fields : [];
}
