#include "agent/codec/payload_parser.h"
