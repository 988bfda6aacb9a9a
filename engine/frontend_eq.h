/* frontend_eq: the per-bin power correction that gives log-mel features computed after one of our
 * host-rate -> 16 kHz resamplers (dsp/resample.h, speexdsp) the band edge of the front end the
 * networks were trained on: ffmpeg's soxr, whose response engine/frontend_edge.h holds
 * (train/frontend_edge.py).  speexdsp's edge sits lower (7.5-8 kHz), and the Mel2Mel reads hiss
 * from its top four mel bands, so uncorrected features make it cut almost nothing there.  Used
 * by the real-time engine (the model's features) and the offline path (Mel2Mel and vocoder
 * input). */
#ifndef MENHANCE_ENGINE_FRONTEND_EQ_H
#define MENHANCE_ENGINE_FRONTEND_EQ_H

/* The 16 kHz analysis the correction is for: STFT size (periodic Hann) and bin count. */
#define FRONTEND_EQ_NFFT 1023
#define FRONTEND_EQ_BINS (FRONTEND_EQ_NFFT / 2 + 1)

/* feq[k], k < FRONTEND_EQ_BINS: power gains (1 = unchanged) = the training front end's response
 * / the measured response of a fresh in_rate -> 16 kHz resampler of this quality
 * (resampler_power_response), bounded to -60..+12 dB: a bin the resampler emptied has nothing
 * worth lifting.  Not real-time safe (allocates; ~10-40 ms).  Returns 0, or -1 on a bad rate or
 * quality or no memory (feq then all 1). */
int frontend_eq_measure(int in_rate, int quality, float *feq);

#endif
