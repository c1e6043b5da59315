#include "agent/codec/batch_codec.h"
