/* How a mono signal made from the channels' common part goes back into each channel (mode 2 in
 * engine/enhance.c, the offline path in engine/offline.c): per block, each channel's level over
 * the common part's and over the channels' mean level. */
#ifndef MENHANCE_CHANNEL_LEVELS_H
#define MENHANCE_CHANNEL_LEVELS_H

/* ec: each channel's energy over the block (C values), em: the common part's (the channels'
 * mean) over the same block.  k[c] = sqrt(ec / em), bounded at 2 (a channel far louder than the
 * common part, as opposite channels, is not driven by it); r[c] = sqrt(ec / mean of ec).  Both
 * are 1 for one channel and 0 for a channel that is digital silence (it stays silent); silence
 * everywhere else gives 1. */
void channel_levels(const double *ec, double em, int C, float *k, float *r);
#endif
