/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Escaping strings for the outputs people and programs read: one JSON
 * string escaper and one text escaper for every writer (kho-tool, the
 * restore-agent, the recorder's summaries), and the check the hand-off
 * reader applies to the strings it decodes.
 */
#ifndef KHO_ESCAPE_H
#define KHO_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/**
 * kho_str_printable() - whether a string is all printable ASCII
 * @s:   the bytes
 * @len: their number
 *
 * Printable means 0x20 to 0x7e: no control character, no DEL, nothing a
 * terminal or a line-oriented file reads as structure.  What the hand-off
 * reader requires of every string it decodes.
 *
 * Return: true or false.
 */
bool kho_str_printable(const char *s, size_t len);

/**
 * kho_json_escape() - a string as a JSON string literal, quotes included
 * @dst:  out: the literal, always NUL-terminated when @size > 0, truncated
 *        at a whole escape
 * @size: room in @dst
 * @s:    the string
 *
 * '"' and '\\' are backslashed; C0 controls, DEL, the C1 controls
 * (U+0080..U+009F) and bytes that are not valid UTF-8 become \\u00XX, so
 * that the output is valid JSON and carries no terminal escape.  Valid
 * UTF-8 otherwise passes through.
 *
 * Return: the length the whole literal needs, without the NUL (as
 * snprintf(3)).
 */
size_t kho_json_escape(char *dst, size_t size, const char *s);

/**
 * kho_json_str() - kho_json_escape() of a string, written to a stream
 * @out: the stream
 * @s:   the string
 */
void kho_json_str(FILE *out, const char *s);

/**
 * kho_text_escape() - a string for a line of text, without quotes
 * @dst:  out: the escaped string, as kho_json_escape()
 * @size: room in @dst
 * @s:    the string
 *
 * '\\' becomes "\\\\", '"' becomes "\\\"", and every byte outside printable
 * ASCII becomes "\\xNN", so that the result is one line with no terminal
 * escape.  A printable-ASCII string without '\\' or '"' is unchanged.
 *
 * Return: as kho_json_escape().
 */
size_t kho_text_escape(char *dst, size_t size, const char *s);

/**
 * kho_json_field() - the string value of a key in a one-line JSON reply
 * @line: the reply (QMP, luod)
 * @key:  the key, first occurrence
 * @out:  out: the value as it stands between its quotes, not unescaped,
 *        truncated to @size
 * @size: room in @out
 *
 * For the short replies of peers whose answers are read for a status or
 * a message, not for a general JSON reader.
 *
 * Return: true if @key has a string value.
 */
bool kho_json_field(const char *line, const char *key, char *out,
		    size_t size);

#endif /* KHO_ESCAPE_H */
