/* A 5x7 pixel font for labelling images without a font library: upper-case letters, digits
 * and a little punctuation (lower case is drawn as upper case, anything else as '?'). */
#ifndef MENHANCE_TOOLS_PIXFONT_H
#define MENHANCE_TOOLS_PIXFONT_H

/* Width in pixels of text drawn at the given integer scale. */
int pixfont_width(const char *text, int scale);
int pixfont_height(int scale);

/* Draws text with its top-left corner at (x, y) into an RGB8 image of w x h pixels,
 * clipping at the edges. */
void pixfont_draw(unsigned char *rgb, int w, int h, int x, int y, const char *text,
                  const unsigned char color[3], int scale);
#endif
