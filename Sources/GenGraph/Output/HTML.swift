/// Text made safe for HTML and SVG: model names and `.gg` source go into pages (`dump --format html`) and plot labels as text, never markup.
enum HTML {
    /// `s` with the characters that could start markup or end an attribute replaced by entities.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
