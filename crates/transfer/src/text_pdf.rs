//! A plain-text document as a PDF (the end-of-call receipt): A4 pages of
//! Helvetica, which every PDF reader and printer has, so nothing is
//! embedded and the text stays extractable. Written with `pdf-writer`.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

const A4: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 56.0;
const TITLE_SIZE: f32 = 16.0;
const BODY_SIZE: f32 = 12.0;
const LEADING: f32 = 17.0;
/// Characters per line before wrapping: Helvetica at 12 pt averages about
/// 6 pt a character over the 483 pt between the margins.
const WRAP_AT: usize = 78;

/// `lines` as a PDF: the first line as a bold title, the others below it,
/// wrapped and paged. Characters Helvetica's WinAnsi encoding lacks print
/// as `?`.
pub fn text_pdf(lines: &[String]) -> Vec<u8> {
    let wrapped: Vec<String> = lines.iter().flat_map(|l| wrap(l, WRAP_AT)).collect();
    let per_page = ((A4.1 - 2.0 * MARGIN - TITLE_SIZE) / LEADING) as usize;
    let pages: Vec<&[String]> = if wrapped.is_empty() { vec![&[][..]] } else { wrapped.chunks(per_page).collect() };

    let (catalog, tree, regular, bold) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4));
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    let page_ids: Vec<Ref> = (0..pages.len() as i32).map(|i| Ref::new(5 + 2 * i)).collect();
    pdf.pages(tree).kids(page_ids.iter().copied()).count(pages.len() as i32);
    pdf.type1_font(regular).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold).base_font(Name(b"Helvetica-Bold")).encoding_predefined(Name(b"WinAnsiEncoding"));
    for (i, (lines, page_id)) in pages.iter().zip(&page_ids).enumerate() {
        let content_id = Ref::new(page_id.get() + 1);
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, A4.0, A4.1)).parent(tree).contents(content_id);
        page.resources().fonts().pair(Name(b"F1"), regular).pair(Name(b"F2"), bold);
        page.finish();

        let mut content = Content::new();
        content.begin_text();
        content.set_leading(LEADING);
        content.next_line(MARGIN, A4.1 - MARGIN - TITLE_SIZE);
        for (n, line) in lines.iter().enumerate() {
            let title = i == 0 && n == 0;
            content.set_font(Name(if title { b"F2" } else { b"F1" }), if title { TITLE_SIZE } else { BODY_SIZE });
            if n > 0 {
                content.next_line_using_leading();
            }
            content.show(Str(&win_ansi(line)));
        }
        content.end_text();
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

/// Splits a line at spaces to at most `width` characters (a longer word is
/// cut), keeping its indentation on the continuation lines.
fn wrap(line: &str, width: usize) -> Vec<String> {
    let indent: String = line.chars().take_while(|c| *c == ' ').collect();
    let mut out = Vec::new();
    let mut current = indent.clone();
    for word in line.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while !word.is_empty() {
            let used = current.chars().count();
            let fresh = used == indent.len();
            if used + word.len() + usize::from(!fresh) <= width {
                if !fresh {
                    current.push(' ');
                }
                current.extend(word.drain(..));
            } else if fresh {
                // A word longer than a line: cut it.
                let room = width.saturating_sub(used).max(1).min(word.len());
                current.extend(word.drain(..room));
                out.push(std::mem::replace(&mut current, indent.clone()));
            } else {
                out.push(std::mem::replace(&mut current, indent.clone()));
            }
        }
    }
    if current.len() > indent.len() || out.is_empty() {
        out.push(current);
    }
    out
}

/// WinAnsiEncoding (PDF 1.7, annex D): Latin-1 plus a few typographic
/// characters in 0x80–0x9F; anything else becomes `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '€' => 0x80,
            '‚' => 0x82,
            '…' => 0x85,
            'Œ' => 0x8C,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '–' => 0x96,
            '—' => 0x97,
            'œ' => 0x9C,
            'Ÿ' => 0x9F,
            c if (' '..='~').contains(&c) || ('\u{A0}'..='\u{FF}').contains(&c) => c as u32 as u8,
            _ => b'?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_wrap_at_spaces_and_keep_their_indentation() {
        assert_eq!(wrap("  a bb ccc", 6), ["  a bb", "  ccc"]);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap("", 10), [""]);
    }

    #[test]
    fn french_letters_map_to_win_ansi_and_others_to_a_question_mark() {
        assert_eq!(win_ansi("Reçu é à œ €"), b"Re\xe7u \xe9 \xe0 \x9c \x80");
        assert_eq!(win_ansi("名.pdf"), b"?.pdf");
    }
}
