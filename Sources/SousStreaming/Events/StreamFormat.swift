/// The output dialect of a serving container.
public enum StreamFormat: String, Sendable, CaseIterable {
    /// Hugging Face TGI: server-sent events `data:{json}` (also a non-streaming JSON array).
    case tgi
    /// DJL LMI default `json` formatter: one JSON document `{"generated_text": "…"}` written incrementally.
    case lmi
    /// JSON Lines: `{"token": {…}}` lines (LMI ≥ 0.26) or `{"outputs": […]}` lines (LMI 0.25).
    case jsonlines
    /// Plain text, printed as is.
    case raw
    /// Chosen from the content type and the first bytes.
    case auto
}
